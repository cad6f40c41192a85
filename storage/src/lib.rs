//! The message store: commit-log segments, consume queues, key index, group commit, flush, recovery and retention. Knows nothing of sockets.
