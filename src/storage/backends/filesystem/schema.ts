/** Options of the `filesystem` state store: none besides `type` (it keeps state in `stateDir`). */
import { z } from 'zod';

/** `stateStore: { type: filesystem }`: the state directory is the top-level `stateDir`. */
export const filesystemStateSchema = z.strictObject({});

/** The parsed options. */
export type FilesystemStateOptions = z.output<typeof filesystemStateSchema>;
