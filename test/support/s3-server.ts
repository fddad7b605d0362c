export * from '../../local/services/s3-server';
