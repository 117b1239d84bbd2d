import { stateStoreContract } from '../../../testing/state-store-contract.js';
import { MemoryStateBackend } from './memory-state-backend.js';

stateStoreContract('memory', async () => ({ backend: new MemoryStateBackend() }));
