"""The watcher: camera -> motion detection -> crash-safe published clips."""
