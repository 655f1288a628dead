/** DynamoDB operations the embedded engine counts (the last slot counts every other one). */
export const DYNAMODB_OPERATIONS = [
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactGetItems',
  'TransactWriteItems',
  'DescribeTable',
  'CreateTable',
  'ListTables',
  'other',
] as const;
