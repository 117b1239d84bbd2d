/** Options of the `filesystem` state store: none besides `type` (it keeps state in `stateDir`). */
import * as z from 'zod/mini';
import '../../../zod-english.js';

/** Builds the schema of `stateStore: { type: filesystem }`: the state directory is the top-level `stateDir` (a new one per call; the plug-in definition builds its own on first use). */
export const filesystemStateSchema = () => z.strictObject({});

/** The parsed options. */
export type FilesystemStateOptions = z.output<ReturnType<typeof filesystemStateSchema>>;
