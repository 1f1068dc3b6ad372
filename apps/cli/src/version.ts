/** The CLI's version. A file of its own: `--version` answers without loading anything else. */
export const VERSION = "0.1.0";
