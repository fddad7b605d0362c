export * from '../../local/services/edge-server';
