// operator console (being written)
