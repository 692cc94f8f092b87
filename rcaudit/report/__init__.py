"""Presentation: figures, the offline HTML export and its nbconvert template, tables, masking, trends."""
