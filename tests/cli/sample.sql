-- A small catalog for the CLI tests: two agents (one silent), two sources, a PostgreSQL-like
-- schema with Chinese names and comments, FK / view / partition / owned_by edges and a history.
-- Times relative to now come from the temp table "now"; the history uses fixed dates.
CREATE TEMP TABLE clock(now INTEGER);
INSERT INTO clock VALUES (CAST(strftime('%s', 'now') AS INTEGER) * 1000);

INSERT INTO agents(id, incarnation, last_seq, version, hostname, first_seen, last_seen, outbox_depth,
	rss_bytes) VALUES
	('health-bureau-01', 3, 42, '0.1.0', 'db1.health.example', (SELECT now FROM clock) - 86400000,
	 (SELECT now FROM clock) - 20000, 0, 12582912),
	('old-agent', 1, 7, '0.0.9', 'legacy.example', (SELECT now FROM clock) - 864000000,
	 (SELECT now FROM clock) - 3600000, 5, 8388608);

INSERT INTO sources(name, agent_id, driver, department, system, root_hash, interval_s, last_start,
	last_end, duration_ms, objects, last_error, ok, next_run, last_applied) VALUES
	('hr', 'health-bureau-01', 'pg', '卫生健康局', '人事管理系统', 'ab12', 300,
	 (SELECT now FROM clock) - 61234, (SELECT now FROM clock) - 60000, 1234, 27, NULL, 1,
	 (SELECT now FROM clock) + 240000, (SELECT now FROM clock) - 59000),
	('fin', 'old-agent', 'pg', 'Finance Office', 'ledger', 'cd34', 60,
	 (SELECT now FROM clock) - 3700000, (SELECT now FROM clock) - 3690000, 10000, 5,
	 'connection refused: host=fin-db port=5432', 0, (SELECT now FROM clock) - 3630000, NULL);

-- objects(source, key, kind, parent, name, path, attrs, obs, hash, first_seen, last_changed)
INSERT INTO objects VALUES
	('hr', 'd:1', 'database', NULL, 'hr', 'hr/hr', '{"comment":"人事数据库","encoding":"UTF8"}', '{}', x'00', 1761955200000, 1761955200000),
	('hr', 'n:2200', 'schema', 'd:1', 'public', 'hr/hr/public', '{"owner":"postgres"}', '{}', x'00', 1761955200000, 1761955200000),
	('hr', 'r:100', 'table', 'n:2200', 'employees', 'hr/hr/public/employees',
	 '{"comment":"员工信息表","owner":"hr_admin"}', '{"bytes":"65536","rows":"1200"}', x'00', 1761955200000, 1762041600000),
	('hr', 'a:100:1', 'column', 'r:100', 'id', 'hr/hr/public/employees.id',
	 '{"family":"integer","ordinal":"1","precision":"32","type":"integer"}', '{}', x'00', 1761955200000, 1761955200000),
	('hr', 'a:100:2', 'column', 'r:100', '姓名', 'hr/hr/public/employees.姓名',
	 '{"comment":"员工姓名","family":"string","length":"50","nullable":"true","ordinal":"2","type":"character varying(50)"}', '{}', x'00', 1761955200000, 1761955200000),
	('hr', 'a:100:3', 'column', 'r:100', 'dept_id', 'hr/hr/public/employees.dept_id',
	 '{"family":"integer","nullable":"true","ordinal":"3","precision":"32","type":"integer"}', '{}', x'00', 1761955200000, 1761955200000),
	('hr', 'a:100:10', 'column', 'r:100', 'salary', 'hr/hr/public/employees.salary',
	 '{"comment":"月薪（元）\n含补贴","default":"0","family":"decimal","nullable":"true","ordinal":"10","precision":"10","scale":"2","type":"numeric(10,2)"}', '{}', x'00', 1761955200000, 1762041600000),
	('hr', 'c:1', 'primary_key', 'r:100', 'employees_pkey', 'hr/hr/public/employees#employees_pkey',
	 '{"columns":"a:100:1"}', '{}', x'00', 1761955200000, 1761955200000),
	('hr', 'c:2', 'foreign_key', 'r:100', 'employees_dept_fk', 'hr/hr/public/employees#employees_dept_fk',
	 '{"columns":"a:100:3","on_delete":"CASCADE","on_update":"NO ACTION","ref_columns":"a:200:1","ref_table":"r:200"}', '{}', x'00', 1761955200000, 1761955200000),
	('hr', 'c:3', 'check', 'r:100', 'salary_positive', 'hr/hr/public/employees#salary_positive',
	 '{"columns":"a:100:10","expression":"(salary >= 0)"}', '{}', x'00', 1761955200000, 1761955200000),
	('hr', 'i:10', 'index', 'r:100', 'employees_pkey', 'hr/hr/public/employees#employees_pkey',
	 '{"columns":"a:100:1","method":"btree","unique":"true"}', '{}', x'00', 1761955200000, 1761955200000),
	('hr', 'i:11', 'index', 'r:100', 'employees_name_dept_idx', 'hr/hr/public/employees#employees_name_dept_idx',
	 '{"columns":"a:100:2\u001fa:100:3","method":"btree"}', '{}', x'00', 1761955200000, 1761955200000),
	('hr', 'r:200', 'table', 'n:2200', '部门', 'hr/hr/public/部门',
	 '{"comment":"部门表"}', '{"bytes":"8192","rows":"12"}', x'00', 1761955200000, 1761955200000),
	('hr', 'a:200:1', 'column', 'r:200', 'id', 'hr/hr/public/部门.id',
	 '{"family":"integer","ordinal":"1","precision":"32","type":"integer"}', '{}', x'00', 1761955200000, 1761955200000),
	('hr', 'a:200:2', 'column', 'r:200', '名称', 'hr/hr/public/部门.名称',
	 '{"comment":"部门名称","family":"string","ordinal":"2","type":"text"}', '{}', x'00', 1761955200000, 1761955200000),
	('hr', 'c:4', 'primary_key', 'r:200', '部门_pkey', 'hr/hr/public/部门#部门_pkey',
	 '{"columns":"a:200:1"}', '{}', x'00', 1761955200000, 1761955200000),
	('hr', 'r:300', 'view', 'n:2200', '员工视图', 'hr/hr/public/员工视图',
	 '{"comment":"员工与部门","definition_hash":"9f86d081","depends_on":"r:100\u001fr:200"}', '{}', x'00', 1761955200000, 1761955200000),
	('hr', 'r:400', 'table', 'n:2200', 'payroll', 'hr/hr/public/payroll',
	 '{"partition_key":"RANGE (month)","partitioned":"true"}', '{"bytes":"0","rows":"0"}', x'00', 1761955200000, 1761955200000),
	('hr', 'r:401', 'table', 'r:400', 'payroll_2026', 'hr/hr/public/payroll/payroll_2026',
	 '{"partition_bound":"FOR VALUES FROM (''2026-01-01'') TO (''2027-01-01'')","partition_of":"r:400"}', '{"bytes":"16384","rows":"300"}', x'00', 1761955200000, 1761955200000),
	('hr', 'r:500', 'sequence', 'n:2200', 'employees_id_seq', 'hr/hr/public/employees_id_seq',
	 '{"increment":"1","owned_by":"a:100:1","type":"integer"}', '{}', x'00', 1761955200000, 1761955200000),
	('hr', 'r:600', 'table', 'n:2200', 'employees_archive', 'hr/hr/public/employees_archive',
	 '{}', '{"bytes":"0","rows":"0"}', x'00', 1761955200000, 1761955200000),
	('fin', 'd:1', 'database', NULL, 'fin', 'fin/fin', '{}', '{}', x'00', 1761955200000, 1761955200000),
	('fin', 'n:2200', 'schema', 'd:1', 'public', 'fin/fin/public', '{}', '{}', x'00', 1761955200000, 1761955200000),
	('fin', 'r:100', 'table', 'n:2200', 'ledger', 'fin/fin/public/ledger', '{"comment":"总账"}', '{"rows":"5000","bytes":"1048576"}', x'00', 1761955200000, 1761955200000),
	('fin', 'a:100:1', 'column', 'r:100', 'amount', 'fin/fin/public/ledger.amount',
	 '{"family":"decimal","ordinal":"1","type":"numeric"}', '{}', x'00', 1761955200000, 1761955200000);

INSERT INTO edges VALUES
	('hr', 'a:100:3', 'a:200:1', 'fk', 'c:2'),
	('hr', 'r:300', 'r:100', 'view_dep', 'r:300'),
	('hr', 'r:300', 'r:200', 'view_dep', 'r:300'),
	('hr', 'r:401', 'r:400', 'partition', 'r:401'),
	('hr', 'r:500', 'a:100:1', 'owned_by', 'r:500');

-- history(id, observed, recorded, agent_id, source, seq, key, kind, path, op, field, before, after,
--         severity, heuristic, origin, prev_hash, row_hash)
INSERT INTO history VALUES
	(1, 1761955200000, 1761955201000, 'health-bureau-01', 'hr', 1, 'r:100', 'table', 'hr/hr/public/employees',
	 'ADD', NULL, NULL, '{"comment":"员工表","owner":"hr_admin"}', 'ADDITIVE', 0, 'baseline', zeroblob(32), randomblob(32)),
	(2, 1762041600000, 1762041601000, 'health-bureau-01', 'hr', 2, 'a:100:10', 'column', 'hr/hr/public/employees.salary',
	 'ALTER', 'type', 'numeric(8,2)', 'numeric(10,2)', 'ADDITIVE', 0, 'delta', randomblob(32), randomblob(32)),
	(3, 1762041600000, 1762041601000, 'health-bureau-01', 'hr', 2, 'r:100', 'table', 'hr/hr/public/employees',
	 'ALTER', 'comment', '员工表', '员工信息表', 'COSMETIC', 0, 'delta', randomblob(32), randomblob(32)),
	(4, 1762128000000, 1762128001000, 'health-bureau-01', 'hr', 3, 'a:100:9', 'column', 'hr/hr/public/employees.old_code',
	 'DROP', NULL, '{"nullable":"true","type":"text"}', NULL, 'BREAKING', 0, 'delta', randomblob(32), randomblob(32)),
	(5, 1762128000000, 1762128001000, 'health-bureau-01', 'hr', 3, 'a:100:2', 'column', 'hr/hr/public/employees.姓名',
	 'RENAME', 'name', 'name', '姓名', 'BREAKING', 1, 'delta', randomblob(32), randomblob(32)),
	(6, 1762128000000, 1762128001000, 'old-agent', 'fin', 1, 'r:100', 'table', 'fin/fin/public/ledger',
	 'ADD', NULL, NULL, '{"comment":"总账"}', 'ADDITIVE', 0, 'baseline', randomblob(32), randomblob(32)),
	(7, 1762214400000, 1762214401000, 'health-bureau-01', 'hr', 4, 'r:600', 'table', 'hr/hr/public/employees_archive',
	 'ADD', NULL, NULL, '{}', 'ADDITIVE', 0, 'delta', randomblob(32), randomblob(32)),
	(8, 1762214400000, 1762214401000, 'health-bureau-01', 'hr', 4, 'r:401', 'table', 'hr/hr/public/payroll/payroll_2026',
	 'ADD', NULL, NULL, '{"partition_of":"hr/public/payroll"}', 'ADDITIVE', 0, 'delta', randomblob(32), randomblob(32)),
	(9, (SELECT now FROM clock) - 3600000, (SELECT now FROM clock) - 3599000, 'health-bureau-01', 'hr', 5, 'c:3', 'check',
	 'hr/hr/public/employees#salary_positive', 'ALTER', 'expression', '(salary > 0)', '(salary >= 0)', 'ADDITIVE', 0,
	 'delta', randomblob(32), randomblob(32));
