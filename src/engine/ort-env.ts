/**
 * Imported by session.ts before onnxruntime-node, for its side effect on the
 * environment the native library reads when it loads.
 *
 * onnxruntime 1.30's Linux build collects telemetry: it writes a device id
 * and an event database under ~/.cache/Microsoft/DeveloperTools/.onnxruntime,
 * a `.ses` file and debug logs in $TMPDIR, and uploads events over HTTPS
 * whenever it finds CA certificates. imgcls works offline and writes only
 * where it is told to, so telemetry is off unless the user sets
 * ORT_DISABLE_TELEMETRY themselves. (Setting it in the main thread sets the
 * process environment, which the worker threads' copy of the library shares.)
 */
process.env.ORT_DISABLE_TELEMETRY ??= '1';
