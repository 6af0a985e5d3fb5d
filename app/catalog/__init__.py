"""The catalog: campaigns, collectives and the fixed lists (industries, provinces).

The lowest capability: works, media and everything above read it; it imports none of them.
"""
