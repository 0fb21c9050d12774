"""Context assembly, in one place: the stage policy, the deep-search query derivation, the
batched loader, rendering for prompts and turn ingestion into deep memory."""
