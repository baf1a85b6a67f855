import { Counter, Gauge, type Registry } from 'prom-client';

/** The coordinator's Prometheus metrics. */
export interface CoordinatorMetrics {
  jobsSubmitted: Counter<'kind'>;
  tasksDispatched: Counter;
  tasksFinished: Counter<'outcome'>;
  tasksRetried: Counter;
  workersConnected: Gauge<'kind'>;
  workerMessages: Counter<'type'>;
  workerResults: Counter;
}

export function createCoordinatorMetrics(registry: Registry): CoordinatorMetrics {
  const registers = [registry];
  return {
    jobsSubmitted: new Counter({ name: 'spindle_jobs_submitted_total', help: 'Jobs accepted, by kind', labelNames: ['kind'], registers }),
    tasksDispatched: new Counter({ name: 'spindle_tasks_dispatched_total', help: 'Task attempts assigned to workers', registers }),
    tasksFinished: new Counter({
      name: 'spindle_tasks_finished_total',
      help: 'Tasks finished for good, by outcome (ok or the error code)',
      labelNames: ['outcome'],
      registers,
    }),
    tasksRetried: new Counter({ name: 'spindle_tasks_retried_total', help: 'Task attempts that will be retried', registers }),
    workersConnected: new Gauge({ name: 'spindle_workers_connected', help: 'Connected workers, by kind', labelNames: ['kind'], registers }),
    workerMessages: new Counter({
      name: 'spindle_worker_messages_received_total',
      help: 'WorkerService.Connect messages received from workers, by type (result, results = a batch, credit, ...)',
      labelNames: ['type'],
      registers,
    }),
    workerResults: new Counter({
      name: 'spindle_worker_results_received_total',
      help: 'Task results received from workers, whether sent alone or in batches',
      registers,
    }),
  };
}
