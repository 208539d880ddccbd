// Segmentor settings page
