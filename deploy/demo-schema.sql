-- A small government department database for the quickstart: population (人口), household
-- registration (户籍) and social insurance (社保), with Chinese comments, keys, foreign keys, indexes,
-- a view and a sequence. Loaded into a throwaway PostgreSQL by `deploy/quickstart.sh --pg`; the
-- default quickstart uses its SQLite twin, deploy/demo-sqlite.sql (keep the two in step).

CREATE SCHEMA renkou;
COMMENT ON SCHEMA renkou IS '人口与户籍';
CREATE SCHEMA shebao;
COMMENT ON SCHEMA shebao IS '社会保险';

CREATE TABLE renkou.household (
    household_no  char(12) PRIMARY KEY,
    head_name     varchar(50) NOT NULL,
    address       varchar(200) NOT NULL,
    district_code char(6) NOT NULL,
    registered_on date NOT NULL DEFAULT current_date
);
COMMENT ON TABLE renkou.household IS '户籍登记（户）';
COMMENT ON COLUMN renkou.household.household_no IS '户号';
COMMENT ON COLUMN renkou.household.head_name IS '户主姓名';
COMMENT ON COLUMN renkou.household.address IS '户籍地址';
COMMENT ON COLUMN renkou.household.district_code IS '行政区划代码';
COMMENT ON COLUMN renkou.household.registered_on IS '登记日期';
CREATE INDEX household_district_idx ON renkou.household (district_code);

CREATE TABLE renkou.person (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id_card_no    char(18) NOT NULL UNIQUE,
    name          varchar(50) NOT NULL,
    gender        char(1) NOT NULL CHECK (gender IN ('M', 'F')),
    birth_date    date NOT NULL,
    ethnicity     varchar(20),
    household_no  char(12) REFERENCES renkou.household (household_no),
    relation      varchar(20),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE renkou.person IS '人口基本信息';
COMMENT ON COLUMN renkou.person.id IS '人员编号';
COMMENT ON COLUMN renkou.person.id_card_no IS '公民身份号码';
COMMENT ON COLUMN renkou.person.name IS '姓名';
COMMENT ON COLUMN renkou.person.gender IS '性别';
COMMENT ON COLUMN renkou.person.birth_date IS '出生日期';
COMMENT ON COLUMN renkou.person.ethnicity IS '民族';
COMMENT ON COLUMN renkou.person.household_no IS '所属户号';
COMMENT ON COLUMN renkou.person.relation IS '与户主关系';
COMMENT ON COLUMN renkou.person.updated_at IS '更新时间';
CREATE INDEX person_household_idx ON renkou.person (household_no);
CREATE INDEX person_name_idx ON renkou.person (name);

CREATE SEQUENCE shebao.insurance_no_seq START 100001;
COMMENT ON SEQUENCE shebao.insurance_no_seq IS '参保编号序列';

CREATE TABLE shebao.insurance (
    insurance_no  bigint PRIMARY KEY DEFAULT nextval('shebao.insurance_no_seq'),
    person_id     bigint NOT NULL REFERENCES renkou.person (id),
    kind          varchar(20) NOT NULL,
    base_amount   numeric(12, 2) NOT NULL,
    start_month   char(6) NOT NULL,
    status        smallint NOT NULL DEFAULT 1
);
ALTER SEQUENCE shebao.insurance_no_seq OWNED BY shebao.insurance.insurance_no;
COMMENT ON TABLE shebao.insurance IS '社保参保登记';
COMMENT ON COLUMN shebao.insurance.insurance_no IS '参保编号';
COMMENT ON COLUMN shebao.insurance.person_id IS '参保人';
COMMENT ON COLUMN shebao.insurance.kind IS '险种（养老、医疗、失业、工伤、生育）';
COMMENT ON COLUMN shebao.insurance.base_amount IS '缴费基数（元）';
COMMENT ON COLUMN shebao.insurance.start_month IS '参保起始年月';
COMMENT ON COLUMN shebao.insurance.status IS '参保状态';
CREATE UNIQUE INDEX insurance_person_kind_idx ON shebao.insurance (person_id, kind);

CREATE TABLE shebao.payment (
    id            bigserial PRIMARY KEY,
    insurance_no  bigint NOT NULL REFERENCES shebao.insurance (insurance_no) ON DELETE CASCADE,
    pay_month     char(6) NOT NULL,
    amount        numeric(12, 2) NOT NULL CHECK (amount >= 0),
    paid_at       timestamptz
);
COMMENT ON TABLE shebao.payment IS '社保缴费记录';
COMMENT ON COLUMN shebao.payment.insurance_no IS '参保编号';
COMMENT ON COLUMN shebao.payment.pay_month IS '缴费年月';
COMMENT ON COLUMN shebao.payment.amount IS '缴费金额（元）';
COMMENT ON COLUMN shebao.payment.paid_at IS '到账时间';
CREATE INDEX payment_month_idx ON shebao.payment (insurance_no, pay_month);

CREATE VIEW shebao.insured_person AS
    SELECT p.id, p.name, p.id_card_no, i.kind, i.status
    FROM renkou.person p JOIN shebao.insurance i ON i.person_id = p.id;
COMMENT ON VIEW shebao.insured_person IS '参保人员视图';

-- A little data, so the catalog has row estimates to show.
INSERT INTO renkou.household VALUES
    ('330102000001', '张伟', '杭州市上城区清波街道1号', '330102', '2015-03-01'),
    ('330102000002', '李娜', '杭州市上城区湖滨街道8号', '330102', '2018-07-15');
INSERT INTO renkou.person (id_card_no, name, gender, birth_date, ethnicity, household_no, relation) VALUES
    ('330102198001010011', '张伟', 'M', '1980-01-01', '汉族', '330102000001', '户主'),
    ('330102198203030022', '王芳', 'F', '1982-03-03', '汉族', '330102000001', '配偶'),
    ('330102199005050033', '李娜', 'F', '1990-05-05', '回族', '330102000002', '户主');
INSERT INTO shebao.insurance (person_id, kind, base_amount, start_month) VALUES
    (1, '养老', 8000.00, '201001'), (1, '医疗', 8000.00, '201001'), (3, '养老', 6500.00, '201503');
INSERT INTO shebao.payment (insurance_no, pay_month, amount, paid_at) VALUES
    (100001, '202401', 1280.00, '2024-01-15 10:00+08'), (100003, '202401', 1040.00, NULL);
ANALYZE;

-- The agent's login: it reads only the catalogs, so it needs no privilege on any table.
CREATE ROLE prospector LOGIN;
