"""What a question gets — answered, uncertain, not found or a conversation turn — decided in one place.

``score`` holds the evidence, the one grounding score and the thresholds (calibration scores arrays of
the same formula: ``eval.calibrate``, tied by a test); ``background`` the generic bank that tells
documents' questions from everything else; ``verdict`` turns the decision into the reply the user gets.
"""
