"""Turn a campaign folder of raw k6 runs into the gap between modes, with its CI and a verdict."""
