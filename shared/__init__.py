"""Code shared by the watcher and the inspector (naming, manifest, atomic files, config, errors)."""
