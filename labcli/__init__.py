"""The `lab` command: campaigns through ansible-runner, and the results at a glance."""
