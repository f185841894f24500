-- The quickstart's demo database as an SQLite file: the department database of
-- deploy/demo-schema.sql (population 人口, household registration 户籍, social insurance 社保) in
-- SQLite syntax, probed through the SQLite ODBC driver, so that the quickstart needs no server.
-- SQLite has a single schema ("main") and no comments in its catalog: the tables keep the names they
-- have in PostgreSQL's renkou and shebao schemas, and the Chinese descriptions are the SQL comments
-- below. The view's name is Chinese, to show non-ASCII names arriving intact.
-- An integer primary key numbers the rows by itself (PostgreSQL's identity and bigserial columns).
-- Load with: sqlite3 demo.db < deploy/demo-sqlite.sql

PRAGMA foreign_keys = ON;

BEGIN;

-- 户籍登记（户）
CREATE TABLE household (
    household_no  char(12) NOT NULL PRIMARY KEY,    -- 户号
    head_name     varchar(50) NOT NULL,             -- 户主姓名
    address       varchar(200) NOT NULL,            -- 户籍地址
    district_code char(6) NOT NULL,                 -- 行政区划代码
    registered_on date NOT NULL DEFAULT CURRENT_DATE -- 登记日期
);
CREATE INDEX household_district_idx ON household (district_code);

-- 人口基本信息
CREATE TABLE person (
    id            integer NOT NULL PRIMARY KEY,      -- 人员编号
    id_card_no    char(18) NOT NULL UNIQUE,          -- 公民身份号码
    name          varchar(50) NOT NULL,              -- 姓名
    gender        char(1) NOT NULL CHECK (gender IN ('M', 'F')), -- 性别
    birth_date    date NOT NULL,                     -- 出生日期
    ethnicity     varchar(20),                       -- 民族
    household_no  char(12) REFERENCES household (household_no), -- 所属户号
    relation      varchar(20),                       -- 与户主关系
    updated_at    timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP -- 更新时间
);
CREATE INDEX person_household_idx ON person (household_no);
CREATE INDEX person_name_idx ON person (name);

-- 社保参保登记
CREATE TABLE insurance (
    insurance_no  integer NOT NULL PRIMARY KEY,      -- 参保编号
    person_id     integer NOT NULL REFERENCES person (id), -- 参保人
    kind          varchar(20) NOT NULL,              -- 险种（养老、医疗、失业、工伤、生育）
    base_amount   numeric(12, 2) NOT NULL,           -- 缴费基数（元）
    start_month   char(6) NOT NULL,                  -- 参保起始年月
    status        smallint NOT NULL DEFAULT 1,       -- 参保状态
    UNIQUE (person_id, kind)
);

-- 社保缴费记录
CREATE TABLE payment (
    id            integer NOT NULL PRIMARY KEY,
    insurance_no  integer NOT NULL REFERENCES insurance (insurance_no) ON DELETE CASCADE, -- 参保编号
    pay_month     char(6) NOT NULL,                  -- 缴费年月
    amount        numeric(12, 2) NOT NULL CHECK (amount >= 0), -- 缴费金额（元）
    paid_at       timestamp                          -- 到账时间
);
CREATE INDEX payment_month_idx ON payment (insurance_no, pay_month);

-- 参保人员视图
CREATE VIEW "参保人员" AS
    SELECT p.id, p.name, p.id_card_no, i.kind, i.status
    FROM person p JOIN insurance i ON i.person_id = p.id;

-- A little data, so the catalog has something to describe.
INSERT INTO household VALUES
    ('330102000001', '张伟', '杭州市上城区清波街道1号', '330102', '2015-03-01'),
    ('330102000002', '李娜', '杭州市上城区湖滨街道8号', '330102', '2018-07-15');
INSERT INTO person (id_card_no, name, gender, birth_date, ethnicity, household_no, relation) VALUES
    ('330102198001010011', '张伟', 'M', '1980-01-01', '汉族', '330102000001', '户主'),
    ('330102198203030022', '王芳', 'F', '1982-03-03', '汉族', '330102000001', '配偶'),
    ('330102199005050033', '李娜', 'F', '1990-05-05', '回族', '330102000002', '户主');
INSERT INTO insurance (insurance_no, person_id, kind, base_amount, start_month) VALUES
    (100001, 1, '养老', 8000.00, '201001'), (100002, 1, '医疗', 8000.00, '201001'),
    (100003, 3, '养老', 6500.00, '201503');
INSERT INTO payment (insurance_no, pay_month, amount, paid_at) VALUES
    (100001, '202401', 1280.00, '2024-01-15 02:00:00'), (100003, '202401', 1040.00, NULL);

COMMIT;
