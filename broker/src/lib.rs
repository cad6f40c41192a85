//! The thread-per-core broker: shards, connections, request processors, long polling, consumer groups and offsets, nameserver registration.
