"""Exports of a finished run: the PEFT adapter, a merged safetensors model, GGUF (written in Python;
k-quants through llama.cpp), an Ollama Modelfile and an Axolotl config. Entry point: `runner.export_run`.
Heavy libraries are imported inside the functions that need them."""
