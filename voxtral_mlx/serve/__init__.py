"""A local server that speaks vLLM's realtime transcription protocol (issue 21)."""
