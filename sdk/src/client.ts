import { credentials, type ChannelOptions } from '@grpc/grpc-js';
import { JobServiceClient } from './gen/spindle/v1/job_service';
import type { WorkerServiceClient } from './gen/spindle/v1/worker_service';
import { FastWorkerServiceClient } from './encode';

/** Options for {@link createJobServiceClient}. */
export interface ClientOptions {
  /** Extra grpc-js channel options. */
  channelOptions?: ChannelOptions;
}

/** Keepalive so that a cut link is noticed on long-lived streams (WatchJob, Connect). */
export const defaultChannelOptions: ChannelOptions = {
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
};

/**
 * A JobService client for `address` ("host:port"), plaintext.
 * Close it with `client.close()`.
 */
export function createJobServiceClient(address: string, options: ClientOptions = {}): JobServiceClient {
  return new JobServiceClient(address, credentials.createInsecure(), {
    ...defaultChannelOptions,
    ...options.channelOptions,
  });
}

/** A WorkerService client for `address`, plaintext; used by workers to dial the coordinator. */
export function createWorkerServiceClient(
  address: string,
  options: ClientOptions = {},
): WorkerServiceClient {
  return new FastWorkerServiceClient(address, credentials.createInsecure(), {
    ...defaultChannelOptions,
    ...options.channelOptions,
  });
}
