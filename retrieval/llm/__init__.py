"""The language model: the client of the OpenAI-compatible server (llama.cpp's here, vLLM in
production) with its context window, token counts and structured output (`client`); starting
the bundled server (`server`); the models docchat can serve and fetching them (`local_models`).
Imports `core` only."""
