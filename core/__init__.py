"""The tunewiz engine: plain Python APIs with no UI. Never imports textual.

Heavy ML libraries (torch, transformers, peft, trl, datasets, bitsandbytes, unsloth) are imported
inside the functions that need them, never at module import time.
"""
