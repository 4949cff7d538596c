"""Question -> answer with checked, element-exact citations: one engine for every front end.

retrieval (index.search) -> context blocks within a token budget (context.py) -> prompt
(prompts.py) -> local LLM or an OpenAI-compatible server (backends.py) -> citations
checked against the blocks (checks.py) -> a session turn with a frozen snapshot
(sessions.py). ``engine.Engine`` ties them together; nothing here knows about a UI.
"""
