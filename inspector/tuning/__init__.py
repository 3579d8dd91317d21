"""``python -m inspector tune``: replay the watcher's own detector and trigger over labelled clips.

- :mod:`.candidates`: the settings to try (``--set``, ``--grid``) around the current ones;
- :mod:`.labelled_set`: the labelled clips, from the library's catalog or an exported folder;
- :mod:`.replayer`: one clip decoded once, every candidate replayed over it (a worker process);
- :mod:`.judge`: per candidate what it keeps and drops, how well the replay agrees with the Pi, and
  the recommendation (pure);
- :mod:`.output`: the text, the JSON and the ``[detector]`` table to paste.
"""
