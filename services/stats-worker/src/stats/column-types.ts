import type { ColumnType } from '@spindle/sdk';

// The ColumnType values, without loading @spindle/sdk at run time: this module runs inside
// worker threads, and the SDK pulls in grpc-js (about 70 ms per thread start). The annotations
// fail to compile if the proto ever renumbers these values.
export const COLUMN_TYPE_INTEGER: ColumnType.COLUMN_TYPE_INTEGER = 1;
export const COLUMN_TYPE_FLOAT: ColumnType.COLUMN_TYPE_FLOAT = 2;
export const COLUMN_TYPE_STRING: ColumnType.COLUMN_TYPE_STRING = 3;
export const COLUMN_TYPE_BOOLEAN: ColumnType.COLUMN_TYPE_BOOLEAN = 4;
export const COLUMN_TYPE_DATE: ColumnType.COLUMN_TYPE_DATE = 5;
export const COLUMN_TYPE_DATETIME: ColumnType.COLUMN_TYPE_DATETIME = 6;
