"""The co-design loop: a design space of chip and device parameters, one point per combination (mapped, fine-tuned
where asked, simulated and reported), resumable, and the page that compares the points."""
