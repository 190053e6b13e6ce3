enum PygmyTLSPlaceholder {}
