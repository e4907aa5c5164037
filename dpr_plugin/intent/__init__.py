"""Reading a prompt into a structured intent: clauses with a polarity and a target (catalogue
tags, a numeric payload range, or a catalogue item named by its title).

Pure Python and numpy: no model runs here. The serving pipeline gives the reader the prompt
and, for clauses no rule resolves, the frozen encoder's embeddings (zero-shot reading).
"""
