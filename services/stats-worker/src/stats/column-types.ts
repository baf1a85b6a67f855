import type { ColumnType } from '@spindle/sdk';

// The ColumnType values, without loading @spindle/sdk at run time: this module runs inside
// worker threads, and the SDK pulls in grpc-js (about 70 ms per thread start). The annotations
// fail to compile if the proto ever renumbers these values.
export const COLUMN_TYPE_INTEGER: ColumnType.COLUMN_TYPE_INTEGER = 1;
export const COLUMN_TYPE_FLOAT: ColumnType.COLUMN_TYPE_FLOAT = 2;
export const COLUMN_TYPE_STRING: ColumnType.COLUMN_TYPE_STRING = 3;
