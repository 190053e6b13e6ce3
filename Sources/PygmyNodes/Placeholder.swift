enum PygmyNodesPlaceholder {}
