// The ports a node listens on by default. A file of its own so that client commands (and
// their --help) can name them without loading the node: gateway/node.ts takes them from here.
export const DEFAULT_PORT = 8734;
export const DEFAULT_ARLOCAL_PORT = 1984;
/** The node a client command talks to without --node. */
export const DEFAULT_NODE = `http://127.0.0.1:${DEFAULT_PORT}`;
