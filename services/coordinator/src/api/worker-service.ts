import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import { getErrorMessage, type Logger } from '@spindle/runtime';
import { WorkerKind, type ConnectRequest, type ConnectResponse, type WorkerServiceServer } from '@spindle/sdk';
import type { JobManager } from '../jobs/job-manager';
import type { CoordinatorMetrics } from '../metrics';
import { PROTOCOL_VERSION, type WorkerSession } from '../sessions/worker-session';
import { encodedResultsOf } from './connect-wire';

/**
 * The WorkerService.Connect handler: one WorkerSession per stream. The first
 * message must be hello; every message renews the session's lease.
 */
export function createWorkerService(jobs: JobManager, logger: Logger, metrics?: CoordinatorMetrics): WorkerServiceServer {
  return {
    connect(call: ServerDuplexStream<ConnectRequest, ConnectResponse>) {
      let session: WorkerSession | undefined;
      let ended = false;
      const end = (error?: { code: number; details: string }) => {
        if (ended) return;
        ended = true;
        if (error) call.emit('error', error);
        else call.end();
      };
      const transport = {
        peer: call.getPeer(),
        write: (msg: ConnectResponse) => {
          if (!ended && !call.cancelled) call.write(msg);
        },
        end,
      };
      call.on('data', (msg: ConnectRequest) => {
        const m = msg.message;
        metrics?.workerMessages.inc({ type: m?.$case ?? 'empty' });
        if (m?.$case === 'result') metrics?.workerResults.inc();
        else if (m?.$case === 'results') metrics?.workerResults.inc(m.value.results.length);
        try {
          if (!session) {
            if (msg.message?.$case !== 'hello') {
              return end({ code: status.FAILED_PRECONDITION, details: 'the first message of Connect must be hello' });
            }
            const h = msg.message.value;
            if (!h.workerId) return end({ code: status.INVALID_ARGUMENT, details: 'hello.worker_id: is required' });
            if (h.kind !== WorkerKind.WORKER_KIND_FETCH && h.kind !== WorkerKind.WORKER_KIND_STATS) {
              return end({ code: status.INVALID_ARGUMENT, details: 'hello.kind: must be WORKER_KIND_FETCH or WORKER_KIND_STATS' });
            }
            if (h.protocolVersion > PROTOCOL_VERSION) {
              return end({
                code: status.FAILED_PRECONDITION,
                details: `hello.protocol_version: ${h.protocolVersion} is not supported; this coordinator speaks 1 to ${PROTOCOL_VERSION}`,
              });
            }
            session = jobs.openSession(h, transport);
            return;
          }
          jobs.touch(session);
          switch (msg.message?.$case) {
            case 'credit':
              if (msg.message.value.credits < 1) {
                return end({ code: status.INVALID_ARGUMENT, details: 'credit.credits: must be at least 1' });
              }
              jobs.grantCredits(session, msg.message.value.credits);
              return;
            case 'heartbeat':
              return;
            case 'progress':
              jobs.progress(session, msg.message.value);
              return;
            case 'result':
              jobs.results(session, [msg.message.value], encodedResultsOf(msg));
              return;
            case 'results':
              if (session.protocolVersion < 2) {
                return end({ code: status.FAILED_PRECONDITION, details: 'results: a protocol 2 message on a protocol 1 session' });
              }
              jobs.results(session, msg.message.value.results, encodedResultsOf(msg));
              return;
            case 'draining':
              jobs.draining(session);
              return;
            case 'hello':
              return end({ code: status.FAILED_PRECONDITION, details: 'hello may only be sent once per stream' });
            default:
              return end({ code: status.INVALID_ARGUMENT, details: 'empty or unknown ConnectRequest message' });
          }
        } catch (err) {
          logger.error({ err, workerId: session?.workerId }, 'error handling a worker message');
          end({ code: status.INTERNAL, details: `internal error: ${getErrorMessage(err)}` });
        }
      });
      const closed = (reason: string) => () => {
        ended = true;
        if (session) jobs.closeSession(session, reason);
      };
      call.on('end', () => {
        // The worker closed its side (after draining): close ours too.
        end();
        closed('stream closed by worker')();
      });
      call.on('cancelled', closed('stream cancelled'));
      call.on('error', (err) => {
        logger.debug({ err: getErrorMessage(err) }, 'worker stream error');
        closed('stream error')();
      });
      call.on('close', closed('stream closed'));
    },
  };
}
