module.exports = {
  attributes: {
    name: { type: 'string' },
    owner: { model: 'user' },
  },
};
