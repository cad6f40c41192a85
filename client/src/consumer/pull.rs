//! Lite pull consumer (to do).
