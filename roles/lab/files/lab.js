// The lab's k6 script: a warm-up scenario, then the measured one, back to back.
// Every point carries data.tags.phase = warmup | measure; the report reads only "measure".
// Configuration comes as JSON in LAB_K6_CONFIG (the profile, the target URL, the summary path).
// A concurrent round gives `targets` instead of `url`: a warm-up and a measured scenario per
// mode, all running at once, each scenario's points tagged with its mode; the order of
// `targets` is the round's order of positions.
import http from 'k6/http';
import { sleep } from 'k6';

const cfg = JSON.parse(__ENV.LAB_K6_CONFIG);
const targets = cfg.targets || [{ mode: null, url: cfg.url }];

function scenario(phase, startTime, seconds, target) {
  const tags = target.mode ? { phase, mode: target.mode } : { phase };
  // A warm-up iteration still running when the measured phase starts is cut (0s): no warm-up
  // request overlaps the measurement. Measured iterations get 2 s to finish.
  const gracefulStop = phase === 'warmup' ? '0s' : '2s';
  const env = {
    LAB_URL: target.url,
    LAB_EXTRA_EVERY: String(target.extra_every || 0),
    LAB_UNCOUNTED_EVERY: String(target.uncounted_every || 0),
  };
  const common = { exec: 'hit', startTime, tags, env, gracefulStop };
  if (cfg.executor === 'constant-arrival-rate') {
    return Object.assign(common, {
      executor: 'constant-arrival-rate', rate: cfg.rate, timeUnit: '1s', duration: `${seconds}s`,
      preAllocatedVUs: cfg.vus, maxVUs: cfg.vus,
    });
  }
  return Object.assign(common, { executor: 'constant-vus', vus: cfg.vus, duration: `${seconds}s` });
}

// A run whose measured requests fail above max_error_rate exits 99: the lab marks it failed.
// So does an open-model run that could not offer its rate (k6 dropped measured iterations).
// dropped_iterations carries the scenario's name but not its tags: one threshold per measured scenario.
const scenarios = {};
const thresholds = { 'http_req_failed{phase:measure}': [`rate<=${cfg.max_error_rate}`] };
for (const target of targets) {
  const suffix = target.mode ? `_${target.mode}` : '';
  scenarios[`warmup${suffix}`] = scenario('warmup', '0s', cfg.warmup_s, target);
  scenarios[`measure${suffix}`] = scenario('measure', `${cfg.warmup_s}s`, cfg.measure_s, target);
  if (cfg.executor === 'constant-arrival-rate') {
    thresholds[`dropped_iterations{scenario:measure${suffix}}`] = ['count<=0'];
  }
}

export const options = {
  scenarios,
  thresholds,
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
};

export function hit() {
  // Concurrent open-model rounds: each request leaves at a random point of its slot, so the
  // modes' arrivals do not stay phase-locked (evenly spaced at the same rate, they would keep
  // colliding on the shared core, or never, for a whole round).
  if (cfg.jitter_s > 0) {
    sleep(Math.random() * cfg.jitter_s);
  }
  // The known-count controls. A mode's uncounted_every: N tags every N-th iteration's request
  // extra: the same traffic, but the report leaves it out of the served requests. extra_request_every:
  // N sends every N-th iteration's request once more, tagged extra: real work of one more request.
  const uncountedEvery = Number(__ENV.LAB_UNCOUNTED_EVERY);
  const uncounted = uncountedEvery > 0 && __ITER % uncountedEvery === uncountedEvery - 1;
  http.get(__ENV.LAB_URL, uncounted ? { tags: { extra: '1' } } : {});
  const extraEvery = Number(__ENV.LAB_EXTRA_EVERY);
  if (extraEvery > 0 && __ITER % extraEvery === extraEvery - 1) {
    http.get(__ENV.LAB_URL, { tags: { extra: '1' } });
  }
  if (cfg.sleep_s > 0) {
    sleep(cfg.sleep_s);
  }
}

export function handleSummary(data) {
  return { [cfg.summary_path]: JSON.stringify(data, null, 1) };
}
