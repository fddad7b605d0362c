export * from '../../local/services/dynamodb-local';
