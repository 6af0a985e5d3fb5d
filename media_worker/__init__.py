"""The media worker: `python -m media_worker` runs an RQ worker on the queue named by MEDIA_QUEUE.

It imports the app's models and storage (jobs run inside a Flask app context) but never its
blueprints; the app, in turn, enqueues jobs by dotted name and never imports this package.
"""
