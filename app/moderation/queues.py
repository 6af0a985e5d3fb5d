"""The names of the review queues and actions, shared by the services and the pages.

Their one home is app/models.py (ReviewQueue, ReviewAction), which the API's schemas read too.
"""

from app.models import ReviewAction, ReviewQueue

QUEUES = tuple(queue.value for queue in ReviewQueue)
ACTIONS = tuple(action.value for action in ReviewAction)
