"""Library mode's routing: which skill of a library each trajectory goes to (docs/library.md).

Plain Python over task texts and their embeddings: groups given by a field or found by
clustering, matched to the existing skills' descriptions, named from their tasks, and
checked for descriptions that claim each other's tasks. The pipeline runs it on the driver.
"""
