//! The nameserver: route table, broker liveness, topic routes and cluster info.
