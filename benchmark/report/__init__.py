"""`mike-bench report`: the run store turned into the document people read."""
