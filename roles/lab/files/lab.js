// The lab's k6 script: a warm-up scenario, then the measured one, back to back.
// Every point carries data.tags.phase = warmup | measure; the report reads only "measure".
// Configuration comes as JSON in LAB_K6_CONFIG (the profile, the target URL, the summary path).
import http from 'k6/http';
import { sleep } from 'k6';

const cfg = JSON.parse(__ENV.LAB_K6_CONFIG);

function scenario(phase, startTime, seconds) {
  const common = { exec: 'hit', startTime, tags: { phase }, gracefulStop: '2s' };
  if (cfg.executor === 'constant-arrival-rate') {
    return Object.assign(common, {
      executor: 'constant-arrival-rate', rate: cfg.rate, timeUnit: '1s', duration: `${seconds}s`,
      preAllocatedVUs: cfg.vus, maxVUs: cfg.vus,
    });
  }
  return Object.assign(common, { executor: 'constant-vus', vus: cfg.vus, duration: `${seconds}s` });
}

export const options = {
  scenarios: {
    warmup: scenario('warmup', '0s', cfg.warmup_s),
    measure: scenario('measure', `${cfg.warmup_s}s`, cfg.measure_s),
  },
  // A run whose measured requests fail above max_error_rate exits 99: the lab marks it failed.
  thresholds: { 'http_req_failed{phase:measure}': [`rate<=${cfg.max_error_rate}`] },
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
};

export function hit() {
  http.get(cfg.url);
  if (cfg.sleep_s > 0) {
    sleep(cfg.sleep_s);
  }
}

export function handleSummary(data) {
  return { [cfg.summary_path]: JSON.stringify(data, null, 1) };
}
