"""The resources domain (资源): the ten databases of seed 000 (teams, warehouses and supplies,
equipment, experts, shelters, hazard sources, protection targets, medical facilities, video
points, plans), what is near a place, and requests that never promise a thing twice."""
