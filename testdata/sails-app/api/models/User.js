module.exports = {
  attributes: {
    name: { type: 'string' },
    pets: { collection: 'pet', via: 'owner' },
    tags: { collection: 'tag', via: 'users' },
  },
};
