// secretariat portal (being written)
