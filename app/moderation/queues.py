"""The names of the review queues and actions, shared by the services and the API spec.

Kept free of imports: the API spec reads them while the moderation package is still loading.
"""

# "recommended" is the national committee's view of the works provinces put forward (推报).
QUEUES = ("pending", "recommended", "published", "rejected")
ACTIONS = ("approve", "reject", "recommend", "unrecommend")
