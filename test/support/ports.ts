export * from '../../local/services/ports';
